"""dmfverify."""
