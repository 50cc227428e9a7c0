#!/usr/bin/env bash
# The multi-host tests (issue 22) start a real sshd on a loopback port as a second "host": this
# installs Debian's openssh-server where it is missing (as root, with apt-get), and nothing else.
# It never starts or enables a system sshd: the tests run their own, on a throwaway config, and
# skip with a reason when it cannot be installed (not root, no apt-get).
set -euo pipefail
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install_sshd: openssh-server is missing and cannot be installed here (needs root and apt-get): the SSH tests will be skipped" >&2
    exit 0
fi
apt-get update -qq
# policy-rc.d 101: the package's scripts must not start a system sshd
had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy = 0 ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server openssh-client
[ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
