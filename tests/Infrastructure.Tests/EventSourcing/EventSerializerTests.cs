using System.Text.Json;
using OrdersEs.Infrastructure.EventSourcing;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.EventSourcing;

public class EventSerializerTests
{
    [Fact]
    public void Event_type_name_is_the_simple_name_unless_the_attribute_overrides_it()
    {
        var registry = TestKernel.Registry();
        Assert.Equal("ThingHappened", registry.NameOf(typeof(ThingHappened)));
        Assert.Equal("thing_renamed_v2", registry.NameOf(typeof(ThingRenamed)));
        Assert.Equal(typeof(ThingRenamed), registry.Resolve("thing_renamed_v2"));
    }

    [Fact]
    public void An_alias_keeps_history_of_a_renamed_event_readable()
    {
        var registry = new EventTypeRegistry().Register<ThingHappened>("SomethingHappened");
        Assert.Equal(typeof(ThingHappened), registry.Resolve("SomethingHappened"));
        Assert.Equal("ThingHappened", registry.NameOf(typeof(ThingHappened)));
    }

    [Fact]
    public void Two_types_cannot_share_a_name()
    {
        var registry = new EventTypeRegistry().Register<ThingHappened>("thing_renamed_v2");
        Assert.Throws<InvalidOperationException>(() => registry.Register<ThingRenamed>());
    }

    [Fact]
    public void Unknown_event_type_throws_EventHandlerException()
    {
        Assert.Throws<OrdersEs.Domain.EventSourcing.EventHandlerException>(() => TestKernel.Registry().Resolve("Nope"));
    }

    [Fact]
    public void Payload_is_snake_case_and_round_trips()
    {
        var serializer = new EventSerializer(new EventTypeRegistry().RegisterAssembly(typeof(ThingsCounted).Assembly));
        var counted = new ThingsCounted("c-1", [new ThingCount("A-1", 150)]);
        var json = serializer.Serialize(counted);
        using var document = JsonDocument.Parse(json);
        Assert.Equal("c-1", document.RootElement.GetProperty("counted_by").GetString());
        Assert.Equal(150, document.RootElement.GetProperty("things")[0].GetProperty("how_many").GetInt32());
        Assert.Equal(["thing", "how_many"], document.RootElement.GetProperty("things")[0].EnumerateObject().Select(p => p.Name)); // no derived label

        var envelope = new StoredEventEnvelope
        {
            EventId = "e",
            AggregateId = "c-1",
            AggregateType = "Counter",
            Sequence = 1,
            EventType = serializer.TypeNameOf(counted),
            Payload = json,
            OccurredAt = DateTimeOffset.UtcNow,
        };
        var back = Assert.IsType<ThingsCounted>(serializer.Deserialize(envelope));
        Assert.Equal(counted.CountedBy, back.CountedBy);
        Assert.Equal(counted.Things, back.Things);
    }

    [Fact]
    public void Metadata_round_trips_and_foreign_values_are_kept_as_json_text()
    {
        var json = EventSerializer.SerializeMetadata(new Dictionary<string, string> { ["correlation_id"] = "c" });
        Assert.Equal("c", EventSerializer.DeserializeMetadata(json)["correlation_id"]);
        var foreign = EventSerializer.DeserializeMetadata("""{"user":"u","attempt":3}""");
        Assert.Equal("u", foreign["user"]);
        Assert.Equal("3", foreign["attempt"]);
        Assert.Empty(EventSerializer.DeserializeMetadata(""));
    }

    // ---- strict decoding: a required member missing or mistyped is an error naming the event and the member

    private static readonly EventSerializer Strict = new(TestKernel.Registry().Register<WithOptionalMembers>());

    private static StoredEventEnvelope Stored(string eventType, string payload) => new()
    {
        EventId = "evt-9",
        AggregateId = "c-9",
        AggregateType = "Counter",
        Sequence = 1,
        EventType = eventType,
        Payload = payload,
        OccurredAt = DateTimeOffset.UnixEpoch,
    };

    private static EventDecodingException Refused(string eventType, string payload) =>
        Assert.Throws<EventDecodingException>(() => Strict.Deserialize(Stored(eventType, payload)));

    [Theory]
    [InlineData("""{"things":[]}""", "counted_by", "is missing")]
    [InlineData("""{"counted_by":null,"things":[]}""", "counted_by", "is null")]
    [InlineData("""{"counted_by":"c"}""", "things", "is missing")]
    [InlineData("""{"counted_by":"c","things":[null]}""", "things[0]", "is null")]
    [InlineData("""{"counted_by":"c","things":[{"thing":"A"}]}""", "things[0].how_many", "is missing")]
    [InlineData("""{"counted_by":"c","things":[{"how_many":1}]}""", "things[0].thing", "is missing")]
    [InlineData("""{"counted_by":"c","things":[{"thing":"A","how_many":1},{"thing":null,"how_many":1}]}""", "things[1].thing", "is null")]
    [InlineData("""{"counted_by":"c","things":[{"thing":"A","how_many":"1"}]}""", "things[0].how_many", "is a string, expected a number")]
    [InlineData("""{"counted_by":7,"things":[]}""", "counted_by", "is a number, expected a string")]
    [InlineData("""{"counted_by":"c","things":{}}""", "things", "is an object, expected an array")]
    [InlineData("""{"counted_by":"c","things":[{"thing":"A","how_many":1.5}]}""", "things[0].how_many", "does not fit")]
    [InlineData("""{"counted_by":"c","things":[{"thing":"A","how_many":3000000000}]}""", "things[0].how_many", "does not fit")]
    [InlineData("""["c"]""", "(the payload)", "is an array, expected an object")]
    [InlineData("""not json""", "(the payload)", "is not JSON")]
    public void A_payload_breaking_the_event_record_is_an_EventDecodingException_naming_event_type_and_member(string payload, string member, string problem)
    {
        var error = Refused(nameof(ThingsCounted), payload);
        Assert.Equal(("evt-9", nameof(ThingsCounted), "c-9", member), (error.EventId, error.EventType, error.AggregateId, error.Member));
        Assert.StartsWith(problem, error.Problem);
        Assert.Contains("evt-9", error.Message);
        Assert.Contains(nameof(ThingsCounted), error.Message);
        Assert.Contains(member, error.Message);
    }

    [Fact]
    public void Members_pyfly_adds_or_a_computed_member_leaves_out_are_accepted()
    {
        var counted = Assert.IsType<ThingsCounted>(Strict.Deserialize(Stored(nameof(ThingsCounted),
            """{"counted_by": "c", "things": [{"thing": "A", "how_many": 2}], "note": "from pyfly"}""")));
        Assert.Equal(new ThingCount("A", 2), Assert.Single(counted.Things));
    }

    [Fact]
    public void Nullable_members_may_be_null_and_members_with_a_default_may_be_missing()
    {
        var decoded = Assert.IsType<WithOptionalMembers>(Strict.Deserialize(Stored(nameof(WithOptionalMembers), """{"name":"n","note":null}""")));
        Assert.Equal((null, 3, null), (decoded.Note, decoded.Count, decoded.Tags));
    }

    [Fact]
    public void A_nullable_member_without_a_default_must_still_be_present_as_pyfly_s_asdict_always_writes_it()
    {
        Assert.Equal("note", Refused(nameof(WithOptionalMembers), """{"name":"n"}""").Member);
    }

    [Fact]
    public void A_null_element_of_a_list_of_non_nullable_elements_is_refused()
    {
        Assert.Equal("tags[1]", Refused(nameof(WithOptionalMembers), """{"name":"n","note":null,"tags":["a",null]}""").Member);
    }

    [Fact]
    public void A_string_where_a_number_is_expected_is_refused_not_converted()
    {
        Assert.Equal("how_many", Assert.Throws<EventDecodingException>(() =>
            TestKernel.Serializer().Deserialize(Stored("ThingHappened", """{"thing_name":"x","how_many":"4"}"""))).Member);
    }
}

public sealed record WithOptionalMembers(string Name, string? Note, int Count = 3, IReadOnlyList<string>? Tags = null) : OrdersEs.Domain.EventSourcing.DomainEvent;
