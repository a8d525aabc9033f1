from boxoffice.core.migrations import run_env
from boxoffice.movie.models import Base

run_env(Base.metadata)
