#!/bin/sh
# The suite: each test prints ok or FAIL; the exit code is the number of
# failures (0: all passed).
db=${DB_URL:-http://db:7000}
failed=0
check() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: want '$2', got '$3'"; failed=$((failed + 1)); fi
}

# Each run starts with an empty store: no run sees another's data.
check "store starts empty" "absent" "$(wget -q -O - "$db/cgi-bin/get?visits" 2>/dev/null || echo absent)"

wget -q -O /dev/null "$db/cgi-bin/set?visits=1"
check "set then get" "1" "$(wget -q -O - "$db/cgi-bin/get?visits")"

wget -q -O /dev/null "$db/cgi-bin/set?visits=2"
check "set overwrites" "2" "$(wget -q -O - "$db/cgi-bin/get?visits")"

check "bad key refused" "refused" "$(wget -q -O - "$db/cgi-bin/set?a/b=1" 2>/dev/null || echo refused)"

exit $failed
