# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The parallel option of the modules that accept a list of VMs (issue 7).
    # Keep in sync with plugins/module_utils/_parallel.py (default and bounds from _batch.py).
    # The checkpoint module documents its own parallel option.
    DOCUMENTATION = r"""
options:
  parallel:
    description:
      - How many pipelines the task runs at once on the one runspace pool of its session (PSRP) when it sends
        one pipeline per VM of a VM list, as a sliding window; the next one starts as soon as the oldest has
        finished. Between 1 and 16; a value outside fails the task before it connects.
      - The default 4 is twice the host capacity of the cost model the collection is measured with
        (docs/hvsim.md, section 4, a host runs 2 checkpoint or merge operations at once and queues the rest),
        so the host always has its next operation waiting while the controller reads a result. A higher value
        only queues more on the host.
      - With O(hyperv_transport=winrm) the pipelines are sent O(parallel) per request and run one after the other
        on the host, so O(parallel) only sets the request size.
      - The notes of each module say which of its steps go through this window.
    type: int
    default: 4
"""
