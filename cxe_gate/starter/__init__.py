"""`cxe-gate init`: a starter criteria file from the journeys the seeder finds in HAR files."""
