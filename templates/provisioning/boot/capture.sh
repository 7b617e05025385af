#!/bin/sh
{% load installer_formats %}{% autoescape off %}# Metalpanel disk capture on {{ server.name|line }} into the image {{ image|line }}.
# Run by the panel's agent image, whose capture_disk reads, gzips and posts each piece.
events_url={{ events_url|sh }}
post "event=progress&progress=10&message=Capturing"
{% for disk in disks %}capture_disk {{ disk.name|sh }} {{ disks_url|sh }} {{ chunk_mib }} {{ disk.from }} {{ disk.to }}
{% endfor %}post "event=done&message=Captured"
{% endautoescape %}
