#!/bin/sh
{% load installer_formats %}{% autoescape off %}# Metalpanel rescue system on {{ server.name|line }}: root logs in with the keys or the one-time password set here.
events_url={{ events_url|sh }}
post() { wget -q -O /dev/null --post-data "$1" "$events_url" || true; }
post "event=progress&progress=50&message=Rescue system booted"
mkdir -p /root/.ssh && chmod 700 /root/.ssh
: > /root/.ssh/authorized_keys
{% for key in ssh_keys %}printf '%s\n' {{ key|sh }} >> /root/.ssh/authorized_keys
{% endfor %}chmod 600 /root/.ssh/authorized_keys
{% if root_password_hash %}hash={{ root_password_hash|sh }}
sed -i "s|^root:[^:]*:|root:${hash}:|" /etc/shadow
{% else %}sed -i "s|^root:[^:]*:|root:!:|" /etc/shadow
{% endif %}hostname rescue
dropbear -R -E 2>/dev/null || /usr/sbin/sshd
post "event=done&message=Rescue system ready: log in as root"
{% endautoescape %}
