"""hvsim: a local Hyper-V lab that speaks real WinRM (WinRS and PSRP).

The package is test infrastructure for the hyperv.checkpoints collection; see docs/hvsim.md.
"""
