#!/bin/sh
# Metalpanel utility image on {{ server.name|line }}: report hardware facts{% if wipe != "none" %}, then wipe ({{ wipe|line }}){% endif %}.
events_url={{ events_url|sh }}
wipe={{ wipe|sh }}
post() { wget -q -O /dev/null --post-data "$1" "$events_url" || true; }
post "event=progress&progress=10&message=Utility image started"
facts=$(printf '{"cpu": "%s", "cpus": %s, "ram_mb": %s, "disks": "%s"}' \
  "$(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1)" "$(nproc)" \
  "$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)" "$(ls /sys/block | grep -v -e loop -e ram | tr '\n' ' ')")
post "event=facts&facts=$facts"
{% if wipe != "none" %}
for disk in $(ls /sys/block | grep -v -e loop -e ram); do
  case "$wipe" in
    simple) wipefs -a "/dev/$disk" && dd if=/dev/zero of="/dev/$disk" bs=1M count=100 ;;
    full) dd if=/dev/zero of="/dev/$disk" bs=4M status=none ;;
  esac
  post "event=progress&progress=80&message=Wiped /dev/$disk ($wipe)"
done
{% endif %}
post "event=done&message=Diagnostics finished"
