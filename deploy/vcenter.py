#!/usr/bin/python3
"""Change vCenter behind dvsconf's back, as an operator would (the quickstart's
"someone changed the switch" and "the switch is lost" steps).

  deploy/vcenter.py set-vlan PORTGROUP VLAN
  deploy/vcenter.py destroy-switch-of PORTGROUP

Reads VCSIM_URL, VCSIM_USER and VCSIM_PASSWORD_FILE (deploy/.state/env).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vim_soap import Vim, VimError  # noqa: E402


def main(argv):
    if len(argv) < 2 or argv[0] not in ("set-vlan", "destroy-switch-of"):
        sys.exit(__doc__)
    with open(os.environ["VCSIM_PASSWORD_FILE"]) as f:
        vim = Vim(os.environ["VCSIM_URL"], os.environ["VCSIM_USER"], f.read())
    key = vim.find_pg(argv[1])
    if argv[0] == "set-vlan":
        vim.set_vlan(key, argv[1], int(argv[2]))
        print("vCenter: port group %s (%s) now on VLAN %s" % (argv[1], key, argv[2]))
    else:
        vim.destroy_switch(key)
        print("vCenter: the switch of port group %s and all its port groups are destroyed" % argv[1])


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except VimError as e:
        sys.exit("vcenter.py: %s" % e)
