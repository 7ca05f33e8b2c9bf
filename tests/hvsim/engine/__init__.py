"""Cmdlet binding and dispatch from structured commands to the Hyper-V model."""
