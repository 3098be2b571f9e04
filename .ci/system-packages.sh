#!/usr/bin/env bash
# Debian packages the tests and benchmarks talk to: Postfix (smtp-sink, smtp-source, and the
# postfix command itself: the reference benchmark starts private instances of it as root from
# temporary directories, never the system's), swaks, and OpenDKIM (the independent DKIM
# signer/verifier of the interop tests), Dovecot's LMTP server (dovecot-lmtpd: the LMTP
# delivery tests start private instances of it as root from temporary directories, never the
# system's dovecot service).
# Installs only what is missing, so a warm machine pays nothing.
set -euo pipefail
missing=()
[ -x /usr/sbin/smtp-sink ] && [ -x /usr/sbin/smtp-source ] && [ -x /usr/sbin/postfix ] \
  && [ -x /usr/lib/postfix/sbin/discard ] || missing+=(postfix)
command -v swaks >/dev/null || missing+=(swaks)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/opendkim ] || missing+=(opendkim)
[ -x /usr/sbin/opendkim-genkey ] || missing+=(opendkim-tools)
# swaks --tls / --tls-on-connect (the SMTP TLS tests) need Net::SSLeay and IO::Socket::SSL.
perl -MNet::SSLeay -MIO::Socket::SSL -e1 2>/dev/null \
  || missing+=(libnet-ssleay-perl libio-socket-ssl-perl)
dovecot=0
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/lmtp ] || { missing+=(dovecot-core dovecot-lmtpd); dovecot=1; }
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Postfix asks how to configure itself; "No configuration" keeps it from starting a server.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
# Dovecot's package would start the system's dovecot (IMAP/POP3 on every address): a
# policy-rc.d that refuses service starts keeps it down, unless one is there already.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ "$dovecot" -eq 1 ] && [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  made_policy=1
fi
status=0
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
[ "$made_policy" -eq 0 ] || $SUDO rm -f "$policy"
exit "$status"
