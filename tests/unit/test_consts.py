"""consts.pxd (C enums) and consts.py (IntEnums) say the same thing."""

import re
from pathlib import Path

from fastdns import consts

PXD = Path(consts.__file__).with_suffix(".pxd").read_text()
C_VALUES = {name: int(value, 0) for name, value in re.findall(r"^\s+(\w+) = (\w+)", PXD, re.M)}

FAMILIES = {"FLAG_": consts.Flag, "OPCODE_": consts.Opcode, "RCODE_": consts.Rcode,
            "CLASS_": consts.RdClass, "TYPE_": consts.RdType}


def test_every_c_constant_has_its_python_twin():
    assert len(C_VALUES) > 60
    for name, value in C_VALUES.items():
        for prefix, enum in FAMILIES.items():
            if name.startswith(prefix):
                assert enum[name[len(prefix):]] == value, name
                break
        else:
            assert getattr(consts, name) == value, name


def test_every_python_member_has_its_c_twin():
    for prefix, enum in FAMILIES.items():
        for member in enum:
            assert C_VALUES[prefix + member.name] == member.value, member
