# bench/read_paths.sh — sourced by bench/http, bench/grpc and bench/cpu so
# that the three measure the same reads. Bash only.

# Waits up to 20 s for GET /readyz on 127.0.0.1:PORT; fails after that.
hk_wait_ready() { # port
    for _ in $(seq 1 200); do
        curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    curl -fs "http://127.0.0.1:$1/readyz" >/dev/null
}

# From line 5000 of a generated facts file: a pattern query that hits the
# KB but returns a small page (the size of typical API answers) and an
# entity page. Sets pattern, first (the entity), path_pattern and
# path_entity.
hk_read_paths() { # facts_file
    local line pred inner last arity
    line=$(sed -n '5000p' "$1")
    pred=${line%%(*}
    inner=${line#*(}
    inner=${inner%)}
    first=$(echo "$inner" | cut -d, -f1 | sed 's/^ *//;s/ *$//')
    last=$(echo "$inner" | awk -F', ' '{print $NF}')
    pattern="$pred(?x, $last)"
    arity=$(echo "$inner" | awk -F', ' '{print NF}')
    if [ "$arity" -gt 2 ]; then
        pattern="$pred(?x"
        for _ in $(seq 2 $((arity - 1))); do pattern+=", _"; done
        pattern+=", $last)"
    fi
    path_pattern="/v2/query?q=$(hk_urlenc "$pattern")&limit=10"
    path_entity="/v2/entities/$(hk_urlenc "$first")?limit=10"
}

hk_urlenc() {
    /usr/bin/python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$1"
}
