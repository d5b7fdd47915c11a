"""Deploy targets: where a built image runs. One module per target."""
