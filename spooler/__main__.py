"""`python -m spooler ...`"""
import sys

from .cli import main

sys.exit(main())
