package io.hablock.cli.acceptance.deploy;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's deployment code, seen from the cli module's tests (which run in cli/). */
final class RepoFiles {
    private RepoFiles() {
    }

    static Path repo() {
        String configured = System.getProperty("hablock.repo");
        Path repo = (configured != null ? Path.of(configured) : Path.of("").toAbsolutePath().getParent())
                .toAbsolutePath().normalize();
        if (!Files.isRegularFile(repo.resolve("ansible/site.yml"))) {
            throw new IllegalStateException("no ansible/site.yml in " + repo + ": run the tests from the repository");
        }
        return repo;
    }

    static Path ansible() {
        return repo().resolve("ansible");
    }

    static Path vagrant() {
        return repo().resolve("vagrant");
    }
}
