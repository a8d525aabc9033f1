from boxoffice.booking.models import Base
from boxoffice.core.events import events_metadata
from boxoffice.core.migrations import run_env

run_env([Base.metadata, events_metadata])
