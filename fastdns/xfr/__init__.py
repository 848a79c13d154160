"""Zone transfers and their companions: NOTIFY, AXFR/IXFR in and out, TSIG."""
