"""The PyTorch trainer (core.py), its configuration (config.py) and command line (cli.py); the §5 loss and the
estimators are prpo_studio.algorithms."""
