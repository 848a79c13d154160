"""The suite's tallies: how many queries were compared, and how each came out. Printed at
the end of the run (conftest.py) and checked by the last test of test_conformance.py."""

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    #: queries sent to both servers and compared (raw packets included)
    queries: int = 0
    equal: int = 0
    #: row id of docs/differences.md → queries whose difference is that row, as documented
    argued: Counter = field(default_factory=Counter)
    #: queries with an undocumented difference, or not as their row documents
    failed: int = 0
    #: queries per group of the query set ("zone data", "EDNS", "M4"...)
    groups: Counter = field(default_factory=Counter)

    def add(self, group: str, outcome: str) -> None:
        """Count one query: ``outcome`` is "equal", "failed" or a row id."""
        self.queries += 1
        self.groups[group] += 1
        if outcome == "equal":
            self.equal += 1
        elif outcome == "failed":
            self.failed += 1
        else:
            self.argued[outcome] += 1

    def lines(self) -> list[str]:
        argued = ", ".join(f"{row} {n}" for row, n in sorted(self.argued.items()))
        groups = ", ".join(f"{g} {n}" for g, n in sorted(self.groups.items()))
        return [f"{self.queries} queries compared with PowerDNS: {self.equal} equal, "
                f"{sum(self.argued.values())} argued differences ({argued or 'none'}), "
                f"{self.failed} failing",
                f"by group: {groups}"]


TALLY = Tally()
