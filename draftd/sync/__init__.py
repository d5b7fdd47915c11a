"""Live sync: a save whose changed files the Dockerfile only copies goes into the running app,
which is restarted there, instead of through an image build and a new deploy.

- `decision`: which files a save changes in the image, where they go, or why it must build.
- `syncer`: the interface a target implements to copy files in and restart the app
  (`Syncer`, `SyncRequest`, `SyncUnavailable`), and the restart wrapper (`restart.sh`).
- `live`: what runs where saves can sync, and one save synced (`LiveSync`), for the pipeline.

The docker target's syncer is `draftd.targets.docker.DockerSyncer`.
"""
