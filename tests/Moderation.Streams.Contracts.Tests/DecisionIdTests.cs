using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

public sealed class DecisionIdTests
{
    private static string Id(string content = "c-1", string topic = "uploads", int partition = 3, long offset = 1234,
        string policy = "2026-11-25.1", string model = "nsfw-mobilenet-v2@1") => DecisionId.For(content, topic, partition, offset, policy, model);

    [Fact]
    public void The_same_upload_under_the_same_policy_and_model_always_gets_the_same_32_hex_id()
    {
        Assert.Equal(Id(), Id());
        Assert.Matches("^[0-9a-f]{32}$", Id());
    }

    [Fact]
    public void Each_field_changes_the_id_and_fields_cannot_run_into_each_other()
    {
        string[] ids =
        [
            Id(), Id(content: "c-2"), Id(topic: "uploads-2"), Id(partition: 4), Id(offset: 1235), Id(policy: "2026-11-25.2"), Id(model: "nsfw-mobilenet-v2@2"),
            // The same characters split differently between two fields.
            Id(content: "c-1u", topic: "ploads"), Id(policy: "2026-11-25.1n", model: "sfw-mobilenet-v2@1"),
        ];
        Assert.Equal(ids.Length, ids.Distinct().Count());
    }
}
