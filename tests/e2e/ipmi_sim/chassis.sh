#!/bin/sh
# ipmi_sim's chassis_control hook: keeps the simulated power state and boot device in
# files beside this script's state directory ($CHASSIS_STATE, set by the test).
# Called as: chassis.sh get power | set power 0|1 | set reset 1 | get boot | set boot DEV
state="${CHASSIS_STATE:?}"
case "$1 $2" in
  "get power") echo "power:$(cat "$state/power" 2>/dev/null || echo 0)" ;;
  "set power") echo "$3" > "$state/power" ;;
  "set reset") echo "reset" >> "$state/log" ;;
  "get boot") echo "boot:$(cat "$state/boot" 2>/dev/null || echo default)" ;;
  "set boot") echo "$3" > "$state/boot" ;;
esac
exit 0
