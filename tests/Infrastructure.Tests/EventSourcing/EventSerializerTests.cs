using System.Text.Json;
using OrdersEs.Domain.Orders;
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
        var serializer = new EventSerializer(new EventTypeRegistry().RegisterAssembly(typeof(Order).Assembly));
        var placed = new OrderPlaced("o-1", "c-1", "EUR", [new OrderLine("A-1", 2, 150)]);
        var json = serializer.Serialize(placed);
        using var document = JsonDocument.Parse(json);
        Assert.Equal("c-1", document.RootElement.GetProperty("customer_id").GetString());
        Assert.Equal(150, document.RootElement.GetProperty("lines")[0].GetProperty("unit_price").GetInt64());

        var envelope = new StoredEventEnvelope
        {
            EventId = "e", AggregateId = "o-1", AggregateType = "Order", Sequence = 1,
            EventType = serializer.TypeNameOf(placed), Payload = json, OccurredAt = DateTimeOffset.UtcNow,
        };
        var back = Assert.IsType<OrderPlaced>(serializer.Deserialize(envelope));
        Assert.Equal(placed.CustomerId, back.CustomerId);
        Assert.Equal(placed.Lines, back.Lines);
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
}
