from boxoffice.auth.models import Base
from boxoffice.core.migrations import run_env

run_env(Base.metadata)
