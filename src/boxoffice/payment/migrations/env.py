from boxoffice.core.migrations import run_env
from boxoffice.payment.models import Base

run_env(Base.metadata)
