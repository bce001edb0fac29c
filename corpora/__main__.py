"""`python -m corpora COMMAND ...`: the corpus adapters, the built-in corpus, label tables, folds (corpora/cli.py)."""
import sys

from corpora.cli import main

sys.exit(main())
