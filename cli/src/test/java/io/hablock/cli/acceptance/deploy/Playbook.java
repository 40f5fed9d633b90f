package io.hablock.cli.acceptance.deploy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.hablock.cli.acceptance.support.CommandResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ansible-playbook site.yml} run from the control host against the {@link NamespaceHosts},
 * with an inventory like {@code ansible/inventory/example.yml}: v1..v4, the first three also
 * ZooKeeper servers. Since the hosts share one file system, every path a role's defaults
 * give is moved under the host's root directory.
 */
final class Playbook {
    /** A role default whose value is an absolute path: {@code zookeeper_data_dir: /var/lib/zookeeper}. */
    private static final Pattern PATH_DEFAULT = Pattern.compile("(?m)^(\\w+): (/\\S*)$");
    /** Programs the hosts share, not paths a role writes. */
    private static final List<String> SHARED_PATHS = List.of("zookeeper_java", "hablock_java");
    private static final Pattern RECAP = Pattern.compile(
            "(?m)^(\\S+)\\s+: ok=(\\d+)\\s+changed=(\\d+)\\s+unreachable=(\\d+)\\s+failed=(\\d+)\\s+skipped=(\\d+)");
    private static final Duration LIMIT = Duration.ofMinutes(4);

    private final NamespaceHosts hosts;
    private final Path ansibleDir;
    private final Path jar;
    private int runs;

    /** What PLAY RECAP says of one host. */
    record Recap(int ok, int changed, int unreachable, int failed, int skipped) {
    }

    /** One run: the recap of each host by name, how long it took, everything it printed. */
    record Run(Map<String, Recap> recap, Duration elapsed, CommandResult result) {
        String describe() {
            return result.describe();
        }
    }

    Playbook(NamespaceHosts hosts, Path ansibleDir, Path jar) {
        this.hosts = hosts;
        this.ansibleDir = ansibleDir;
        this.jar = jar;
    }

    /** Writes DIR/inventory.json (JSON is YAML to Ansible's inventory plugin). */
    Path writeInventory() throws IOException {
        Map<String, String> paths = new TreeMap<>();
        for (String role : List.of("zookeeper", "hablock")) {
            Matcher m = PATH_DEFAULT.matcher(Files.readString(ansibleDir.resolve("roles/" + role + "/defaults/main.yml")));
            while (m.find()) {
                if (!SHARED_PATHS.contains(m.group(1))) {
                    paths.put(m.group(1), m.group(2));
                }
            }
        }
        Map<String, Object> hostVars = new LinkedHashMap<>();
        Map<String, Object> zookeeper = new LinkedHashMap<>();
        Map<String, Object> hablock = new LinkedHashMap<>();
        for (int k = 1; k <= NamespaceHosts.COUNT; k++) {
            Path root = hosts.root(k);
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("ansible_host", hosts.ip(k));
            v.put("ansible_remote_tmp", root.resolve("tmp/ansible").toString());
            paths.forEach((name, path) -> v.put(name, root + path));
            hostVars.put(NamespaceHosts.name(k), v);
            if (k <= 3) {
                zookeeper.put(NamespaceHosts.name(k), Map.of("zookeeper_id", k));
            }
            hablock.put(NamespaceHosts.name(k), null);
        }
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("vars", Map.ofEntries(
                Map.entry("ansible_user", "root"),
                Map.entry("ansible_python_interpreter", "/usr/bin/python3"),
                Map.entry("ansible_ssh_private_key_file", hosts.privateKey().toString()),
                Map.entry("ansible_ssh_common_args", "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no"),
                // The hosts are this machine, whose packages run-tests installed; four hosts
                // refreshing one apt cache at once would only fight over its lock.
                Map.entry("zookeeper_apt_update_cache", false),
                Map.entry("hablock_apt_update_cache", false),
                Map.entry("zookeeper_java_opts", "-Xmx128m"),
                Map.entry("hablock_java_opts", "-Xms32m -Xmx256m -XX:MaxDirectMemorySize=256m"),
                // NBD over TLS for those who ask (plain clients too): the role issues each node's certificate.
                Map.entry("hablock_nbd_tls", "on"),
                Map.entry("hablock_jar_src", jar.toString())));
        all.put("hosts", hostVars);
        all.put("children", Map.of("zookeeper", Map.of("hosts", zookeeper), "hablock", Map.of("hosts", hablock)));
        Path inventory = hosts.dir().resolve("inventory.json");
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(inventory.toFile(), Map.of("all", all));
        return inventory;
    }

    /** Runs site.yml once; its output also goes to DIR/playbook-N.log. */
    Run run(Path inventory) throws IOException {
        runs++;
        Path dir = hosts.dir().resolve("ansible");
        List<String> argv = new ArrayList<>(List.of("env", "--chdir=" + ansibleDir, "ansible-playbook", "-i",
                inventory.toString(), "site.yml"));
        CommandResult r = hosts.onControl(argv)
                .env("ANSIBLE_NOCOLOR", "1")
                .env("ANSIBLE_HOST_KEY_CHECKING", "False")
                .env("ANSIBLE_PIPELINING", "True")
                .env("ANSIBLE_LOCAL_TEMP", dir.resolve("tmp").toString())
                .env("ANSIBLE_SSH_CONTROL_PATH_DIR", dir.resolve("cp").toString())
                .env("ANSIBLE_CALLBACKS_ENABLED", "ansible.posix.profile_tasks")
                .timeout(LIMIT).run();
        Files.writeString(hosts.dir().resolve("playbook-" + runs + ".log"), r.stdout() + r.stderr());
        Map<String, Recap> recap = new TreeMap<>();
        Matcher m = RECAP.matcher(r.stdout());
        while (m.find()) {
            recap.put(m.group(1), new Recap(Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                    Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)), Integer.parseInt(m.group(6))));
        }
        return new Run(recap, r.elapsed(), r);
    }
}
