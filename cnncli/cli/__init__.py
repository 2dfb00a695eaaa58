"""The `cnn` command: one small module per sub-command; no maths here."""
