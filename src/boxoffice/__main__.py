"""`python -m boxoffice`: the same command as the installed `boxoffice` script, for a checkout or
an environment whose scripts folder is not on PATH."""

from boxoffice.cli import app

app(prog_name="boxoffice")
