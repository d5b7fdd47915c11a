"""draftd: the daemon that builds and deploys Draft apps."""
