#!/bin/sh
{% load installer_formats %}{% autoescape off %}# Metalpanel disk restore on {{ server.name|line }} from the image {{ image|line }}.
# Run by the panel's agent image, whose restore_disk writes each piece and checks the SHA-256.
events_url={{ events_url|sh }}
post "event=progress&progress=10&message=Restoring"
{% for disk in disks %}restore_disk {{ disk.target|sh }} {{ disks_url|sh }}/{{ disk.name|sh }} {{ disk.piece_count }} {{ chunk_mib }} {{ disk.bytes }} {{ disk.sha256|sh }} {{ disk.from }} {{ disk.to }}
{% endfor %}post "event=done&message=Restored"
{% endautoescape %}
