from boxoffice.core.events import events_metadata
from boxoffice.core.migrations import run_env
from boxoffice.movie.models import Base

run_env([Base.metadata, events_metadata])
