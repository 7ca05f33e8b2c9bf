"""Cmdlet handlers of the Hyper-V model; importing this package registers them all."""

from . import cim, cluster, disk, files, host, integration, select, snapshot, vm  # noqa: F401

__all__ = ["cim", "cluster", "disk", "files", "host", "integration", "select", "snapshot", "vm"]
