"""Live sync: a save whose changed files the Dockerfile only copies goes into the running app,
which is restarted there, instead of through an image build and a new deploy.

- `decision`: which files a save changes in the image, where they go, or why it must build.
- `syncer`: the interface a target implements to copy files in and restart the app
  (`Syncer`, `SyncRequest`, `SyncUnavailable`), and the restart wrapper (`restart.sh`).
- `live`: what runs where saves can sync, and one save synced (`LiveSync`), for the pipeline.
- `warm_start.py`: never imported by draftd; `syncer` puts it inside the restart wrapper,
  which writes it into the app's container as `sitecustomize.py`, so a Python app restarts
  into a warm spare that has already imported its libraries.

Each target's syncer lives with its target: the docker target's is
`draftd.targets.docker.DockerSyncer`, the kubernetes target's
`draftd.targets.kubernetes_sync.KubernetesSyncer`.
"""
