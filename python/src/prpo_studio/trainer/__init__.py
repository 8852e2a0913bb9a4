"""The PyTorch trainer: the run and its loop (core.py), a step's stages (step.py), its records and dependency
metrics (records.py), checkpoint contents (checkpoint.py), configuration (config.py) and command line (cli.py);
the §5 loss and the estimators are prpo_studio.algorithms."""
