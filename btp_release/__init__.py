"""btp_release: release Kyma modules, re-runnable after any failure."""

__all__: list[str] = []
