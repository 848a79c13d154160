"""Print the conformance tallies at the end of a run that compared any queries."""

from tests.conformance.report import TALLY


def pytest_terminal_summary(terminalreporter) -> None:
    if TALLY.queries:
        terminalreporter.section("conformance: fastdns vs PowerDNS 4.7.3")
        for line in TALLY.lines():
            terminalreporter.write_line(line)
