package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The status page: self-contained, escaped, and saying what only the leader knows. */
class StatusPageTest {
    static final String HOSTILE = "<script>alert('x')</script>&\"\u0000";

    static StatusReport report(String volume, String downNode, boolean leaderView) {
        StatusReport.Member self = new StatusReport.Member(
                "127.0.0.1:7001",
                leaderView ? "leader" : "follower",
                true,
                40L,
                40L,
                null,
                leaderView ? 0L : null,
                leaderView ? 0.0 : null,
                null,
                null);
        StatusReport.Member other = new StatusReport.Member(
                downNode,
                "follower",
                false,
                31L,
                null,
                leaderView ? 31L : null,
                leaderView ? 9L : null,
                leaderView ? 3.5 : null,
                leaderView ? 4.0 : null,
                null);
        StatusReport.Member third = new StatusReport.Member(
                "127.0.0.1:7002",
                leaderView ? "follower" : "leader",
                true,
                40L,
                null,
                leaderView ? 40L : null,
                leaderView ? 0L : null,
                leaderView ? 0.0 : null,
                leaderView ? 0.1 : null,
                null);
        List<StatusReport.Member> members = List.of(self, third, other);
        Health.Assessment h = Health.assess(members, leaderView ? "127.0.0.1:7001" : "127.0.0.1:7002");
        StatusReport.Group g = new StatusReport.Group(
                volume,
                "0000-group",
                leaderView ? "127.0.0.1:7001" : "127.0.0.1:7002",
                2L,
                leaderView,
                h.health(),
                h.reason(),
                members,
                new StatusReport.CatchUp(false, 0, null, 1.0));
        return new StatusReport(
                "cluster-1",
                "node 127.0.0.1:7001",
                "2026-01-01T00:00:00Z",
                List.of(
                        new StatusReport.Node("127.0.0.1:7001", true, 0.0, true, true),
                        new StatusReport.Node("127.0.0.1:7002", true, 0.0, true, false),
                        new StatusReport.Node(downNode, false, 4.25, true, false)),
                List.of(new StatusReport.Volume(
                        volume, "0000-group", List.of("127.0.0.1:7001", "127.0.0.1:7002", downNode))),
                List.of(g),
                new StatusReport.Connections(3, 0, 1));
    }

    @Test
    void showsNodesGroupsHealthAndConnections() {
        String html = StatusPage.render(report("mail", "127.0.0.1:7003", true));
        assertThat(html).startsWith("<!DOCTYPE html>");
        assertThat(html).contains("<meta http-equiv=\"refresh\" content=\"2\">");
        assertThat(html)
                .contains(
                        "data-node=\"127.0.0.1:7003\" data-state=\"down\"",
                        "4.3 s ago",
                        "data-node=\"127.0.0.1:7001\" data-state=\"up\"",
                        "this node, cluster group");
        assertThat(html).contains("data-health=\"degraded\"", "1 of 3 members down: 127.0.0.1:7003");
        assertThat(html)
                .contains("leader: 127.0.0.1:7001", "term 2", "<td class=\"n\">9</td>", "<td class=\"n\">3.5</td>");
        assertThat(html).contains("id=\"connections\"");
        assertThat(html).doesNotContain("known to the leader");
    }

    @Test
    void aFollowerSaysWhatOnlyTheLeaderKnows() {
        String html = StatusPage.render(report("mail", "127.0.0.1:7003", false));
        assertThat(html).contains("match index, lag and last contact are known to the leader (127.0.0.1:7002)");
        assertThat(html).contains("leader: 127.0.0.1:7002");
    }

    @Test
    void selfContainedNoScriptsNoExternalResources() {
        String html = StatusPage.render(report("mail", "127.0.0.1:7003", true));
        assertThat(html.toLowerCase())
                .doesNotContain("<script", "<link", "<img", "src=", "@import", "url(", "http://", "https://");
    }

    @Test
    void namesAndAddressesAreEscapedEverywhere() {
        String html = StatusPage.render(report(HOSTILE, HOSTILE, true));
        assertThat(html).doesNotContain("<script>", "alert('x')", "\"\u0000", "\u0000");
        assertThat(html).contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\uFFFD");
        // the attribute stays one attribute: the quote inside the value is a character reference
        assertThat(html)
                .contains("data-node=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\uFFFD\" "
                        + "data-state=\"down\"");
    }

    @Test
    void escapeLeavesPlainTextAlone() {
        assertThat(StatusPage.esc("vol-1.a_b")).isEqualTo("vol-1.a_b");
        assertThat(StatusPage.esc("a<b>&'\"")).isEqualTo("a&lt;b&gt;&amp;&#39;&quot;");
        assertThat(StatusPage.esc(null)).isEmpty();
    }
}
