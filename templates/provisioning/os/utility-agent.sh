#!/bin/sh
# Metalpanel utility image on {{ server.name|line }}: report hardware facts{% if wipe != "none" %}, then wipe ({{ wipe|line }}){% endif %}.
# Run by the panel's agent image (manage.py build_agent_image), whose functions it calls:
# post, progress, hardware_facts, urlencode, wipe_disks (provisioning/agent/init).
events_url={{ events_url|sh }}
wipe={{ wipe|sh }}
post "event=progress&progress=10&message=Utility image started"
facts=$(hardware_facts | urlencode)
post "event=facts&facts=$facts"
{% if wipe != "none" %}wipe_disks "$wipe"
{% endif %}post "event=done&message=Diagnostics finished"
