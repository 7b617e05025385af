"""The shipped utility script ran its wipe loop with `wipe: none` too: it wiped nothing but
reported "Wiped /dev/sda (none)" per disk. Utility templates still holding the shipped
loop get the one that runs only when a wipe is asked for; edited ones are left alone.
"""

from django.db import migrations

OLD_HEADER = "report hardware facts, then wipe ({{ wipe }})."
NEW_HEADER = 'report hardware facts{% if wipe != "none" %}, then wipe ({{ wipe }}){% endif %}.'
LOOP = """for disk in $(ls /sys/block | grep -v -e loop -e ram); do
  case "{{ wipe }}" in
    simple) wipefs -a "/dev/$disk" && dd if=/dev/zero of="/dev/$disk" bs=1M count=100 ;;
    full) dd if=/dev/zero of="/dev/$disk" bs=4M status=none ;;
  esac
  post "event=progress&progress=80&message=Wiped /dev/$disk ({{ wipe }})"
done
"""
GUARDED_LOOP = '{% if wipe != "none" %}\n' + LOOP + "{% endif %}\n"


def _rewrite(apps, change):
    OsTemplate = apps.get_model("provisioning", "OsTemplate")
    for template in OsTemplate.objects.filter(is_utility=True):
        config = change(template.config)
        if config != template.config:
            template.config = config
            template.save(update_fields=["config"])


def _guard(config: str) -> str:
    config = config.replace(OLD_HEADER, NEW_HEADER)
    return config if GUARDED_LOOP in config else config.replace(LOOP, GUARDED_LOOP)


def _unguard(config: str) -> str:
    return config.replace(NEW_HEADER, OLD_HEADER).replace(GUARDED_LOOP, LOOP)


def forwards(apps, schema_editor):
    _rewrite(apps, _guard)


def backwards(apps, schema_editor):
    _rewrite(apps, _unguard)


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0005_kernels_over_plain_http")]
    operations = [migrations.RunPython(forwards, backwards)]
