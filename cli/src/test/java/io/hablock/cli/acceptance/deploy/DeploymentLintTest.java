package io.hablock.cli.acceptance.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What can be checked of the deployment code without machines: the playbook's syntax,
 * {@code ansible-lint}, the systemd units the roles write (the namespace hosts of
 * {@link AnsibleDeployIT} have no systemd), the Vagrantfile, and the demo script.
 */
class DeploymentLintTest {
    private static final Pattern VAGRANT_NODE = Pattern.compile("\"(v\\d)\" => \"([0-9.]+)\"");
    private static final Pattern DEMO_NODE = Pattern.compile("\\[(v\\d)\\]=([0-9.]+)");
    private static final Pattern VAGRANT_PLAYBOOK = Pattern.compile("ansible\\.playbook = \"([^\"]+)\"");

    @TempDir
    Path tmp;

    @Test
    void sitePlaybookPassesTheSyntaxCheck() {
        CommandResult r = inAnsibleDir("ansible-playbook", "-i", "inventory/example.yml", "site.yml", "--syntax-check")
                .run();

        assertThat(r.exitCode()).as(r.describe()).isZero();
        assertThat(r.stdout()).contains("playbook: site.yml");
    }

    @Test
    void ansibleLintFindsNothing() {
        CommandResult r = inAnsibleDir("ansible-lint", "--offline", "--nocolor").timeout(Duration.ofMinutes(2)).run();

        assertThat(r.exitCode()).as(r.describe()).isZero();
        assertThat(r.stdout() + r.stderr()).as(r.describe()).contains("0 failure(s), 0 warning(s)");
    }

    /** The units are rendered with the roles' own defaults, as a systemd host would get them. */
    @Test
    void theRolesSystemdUnitsPassSystemdAnalyzeVerify() throws IOException {
        Path roles = RepoFiles.ansible().resolve("roles");
        Path out = Files.createDirectories(tmp.resolve("units"));
        Path inventory = tmp.resolve("inventory.json");
        new ObjectMapper().writeValue(inventory.toFile(), Map.of("all", Map.of(
                "hosts", Map.of("localhost", Map.of("ansible_connection", "local",
                        "ansible_python_interpreter", "/usr/bin/python3", "zookeeper_id", 1)),
                "children", Map.of("zookeeper", Map.of("hosts", Map.of("localhost", Map.of())),
                        "hablock", Map.of("hosts", Map.of("localhost", Map.of()))))));
        Path render = tmp.resolve("render.yml");
        Files.writeString(render, """
                - name: Render the roles' systemd units
                  hosts: all
                  gather_facts: false
                  vars_files:
                    - %1$s/zookeeper/defaults/main.yml
                    - %1$s/zookeeper/vars/main.yml
                    - %1$s/hablock/defaults/main.yml
                    - %1$s/hablock/vars/main.yml
                  tasks:
                    - name: Render
                      ansible.builtin.template:
                        src: "%1$s/{{ item }}/templates/{{ item }}.service.j2"
                        dest: "%2$s/{{ item }}.service"
                        mode: "0644"
                      loop: [zookeeper, hablock]
                """.formatted(roles, out));
        CommandResult rendered = Command.of("ansible-playbook", "-i", inventory.toString(), render.toString())
                .env("ANSIBLE_NOCOLOR", "1").env("ANSIBLE_LOCAL_TEMP", tmp.resolve("ansible").toString()).run();
        assertThat(rendered.exitCode()).as(rendered.describe()).isZero();

        CommandResult r = Command.of("systemd-analyze", "verify", out.resolve("zookeeper.service").toString(),
                out.resolve("hablock.service").toString()).run();

        assertThat(r.exitCode()).as(r.describe()).isZero();
        assertThat(r.stdout() + r.stderr()).as("warnings" + r.describe()).isEmpty();
        assertThat(Files.readString(out.resolve("hablock.service"))).contains("Restart=on-failure");
        assertThat(Files.readString(out.resolve("zookeeper.service"))).contains("Restart=on-failure",
                "org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/zookeeper/conf/zoo.cfg");
    }

    @Test
    void theVagrantfileValidates() {
        CommandResult r = Command.of("vagrant", "validate", "--ignore-provider")
                .env("VAGRANT_CWD", RepoFiles.vagrant().toString())
                .env("VAGRANT_DOTFILE_PATH", tmp.resolve("dotfile").toString())
                .env("VAGRANT_HOME", tmp.resolve("vagrant.d").toString())
                .timeout(Duration.ofMinutes(2)).run();

        assertThat(r.exitCode()).as(r.describe()).isZero();
        assertThat(r.stdout()).as(r.describe()).contains("Vagrantfile validated successfully.");
    }

    /** `vagrant validate` checks neither: the demo must run the namespace test's playbook, on the VMs' addresses. */
    @Test
    void theVagrantfileProvisionsWithTheSitePlaybookAndTheDemoKnowsItsAddresses() throws IOException {
        String vagrantfile = Files.readString(RepoFiles.vagrant().resolve("Vagrantfile"));
        String demo = Files.readString(RepoFiles.vagrant().resolve("demo-failure.sh"));
        String swarmDemo = Files.readString(RepoFiles.vagrant().resolve("swarm-demo.sh"));

        Matcher playbook = VAGRANT_PLAYBOOK.matcher(vagrantfile);
        assertThat(playbook.find()).as("ansible.playbook in the Vagrantfile").isTrue();
        assertThat(RepoFiles.vagrant().resolve(playbook.group(1)).normalize())
                .isEqualTo(RepoFiles.ansible().resolve("site.yml"));
        Map<String, String> vms = pairs(VAGRANT_NODE, vagrantfile);
        assertThat(vms).containsOnlyKeys("v1", "v2", "v3", "v4");
        assertThat(pairs(DEMO_NODE, demo)).isEqualTo(vms);
        assertThat(pairs(DEMO_NODE, swarmDemo)).isEqualTo(vms);
    }

    @Test
    void theDemoScriptsAreShellcheckClean() {
        CommandResult r = Command.of("shellcheck", RepoFiles.vagrant().resolve("demo-failure.sh").toString(),
                RepoFiles.vagrant().resolve("swarm-demo.sh").toString()).run();

        assertThat(r.exitCode()).as(r.describe()).isZero();
    }

    private static Command inAnsibleDir(String... argv) {
        List<String> all = new ArrayList<>(List.of("env", "--chdir=" + RepoFiles.ansible()));
        all.addAll(List.of(argv));
        return Command.of(all).env("ANSIBLE_NOCOLOR", "1");
    }

    private static Map<String, String> pairs(Pattern p, String text) {
        Map<String, String> found = new TreeMap<>();
        Matcher m = p.matcher(text);
        while (m.find()) {
            found.put(m.group(1), m.group(2));
        }
        return found;
    }
}
