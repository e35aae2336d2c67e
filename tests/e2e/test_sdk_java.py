#!/usr/bin/env python3
"""Live test of the Java SDK (sdk/java): compiled with plain javac (Java 17,
-Xlint:all -Werror) against Debian's Jackson (/usr/share/java), packed with
jar, and the live test program (LiveTest) run against a real
`hakgal serve`."""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdk_live_lib as lib  # noqa: E402

javac = lib.need("javac", "default-jdk-headless")
jar = lib.need("jar", "default-jdk-headless")
java = lib.need("java", "default-jdk-headless")
JACKSON = ["/usr/share/java/jackson-databind.jar",
           "/usr/share/java/jackson-core.jar",
           "/usr/share/java/jackson-annotations.jar"]
for j in JACKSON:
    if not os.path.exists(j):
        lib.fail("%s missing: install libjackson2-databind-java "
                 "(bash scripts/deps.sh)" % j)
src = lib.sdk_dir("java")
out = lib.workdir("java")
classes = os.path.join(out, "classes")
main_src = sorted(glob.glob(os.path.join(src, "src", "main", "java", "**",
                                         "*.java"), recursive=True))
test_src = sorted(glob.glob(os.path.join(src, "src", "test", "java", "**",
                                         "*.java"), recursive=True))
cp = ":".join(JACKSON)
lib.run("javac", [javac, "--release", "17", "-Xlint:all", "-Werror",
                  "-encoding", "UTF-8", "-cp", cp, "-d", classes] + main_src)
client_jar = os.path.join(out, "hakgal-client.jar")
lib.run("jar", [jar, "--create", "--file", client_jar, "-C", classes, "."])
tests = os.path.join(out, "test-classes")
lib.run("javac (test)", [javac, "--release", "17", "-Xlint:all", "-Werror",
                         "-encoding", "UTF-8", "-cp", cp + ":" + client_jar,
                         "-d", tests] + test_src)
lib.live("java", [java, "-cp", ":".join([client_jar, tests] + JACKSON),
                  "hakgal.client.LiveTest"])
