"""The PyTorch trainer (core.py), its configuration (config.py), §5 loss (loss.py) and command line (cli.py)."""
