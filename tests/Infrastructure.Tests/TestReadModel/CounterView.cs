using System.Text.Json;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Tests.TestReadModel;

/// <summary>A row of <c>test_counters_view</c>, kept by <see cref="CountersViewProjection"/>: the kernel tests' read model.</summary>
public sealed class CounterView
{
    public required string Id { get; init; }
    public string? TenantId { get; init; }
    /// <summary>Null until the counter is renamed.</summary>
    public string? Name { get; set; }
    /// <summary>Who made the last tally (<see cref="ThingsCounted.CountedBy"/>).</summary>
    public string? CountedBy { get; set; }
    /// <summary>The <see cref="CounterStatus"/> name.</summary>
    public required string Status { get; set; }
    /// <summary>The things counted, one entry per thing, as snake_case JSON.</summary>
    public required string ThingsJson { get; set; }
    public long Total { get; set; }
    /// <summary>The sequence of the last event applied: events at or below it are ignored on redelivery.</summary>
    public int Version { get; set; }
    public DateTime StartedAt { get; init; }
    public DateTime UpdatedAt { get; set; }

    // The things stay objects while a projection batch changes them; the JSON is written once per batch (FlushThings).
    private List<ThingCount>? _things;
    private bool _thingsChanged;

    public IReadOnlyList<ThingCount> Things() => Tally();

    /// <summary>Adds <paramref name="howMany"/> to the entry of <paramref name="thing"/> (a new entry at the end) and to the total.</summary>
    public void Count(string thing, int howMany)
    {
        var things = Tally();
        var index = things.FindIndex(t => t.Thing == thing);
        if (index < 0) things.Add(new ThingCount(thing, howMany));
        else things[index] = things[index] with { HowMany = things[index].HowMany + howMany };
        Total += howMany;
        _thingsChanged = true;
    }

    /// <summary>Writes changed things to <see cref="ThingsJson"/>; call before saving.</summary>
    public void FlushThings()
    {
        if (!_thingsChanged) return;
        ThingsJson = JsonSerializer.Serialize(_things, EventSerializer.Options);
        _thingsChanged = false;
    }

    private List<ThingCount> Tally() =>
        _things ??= JsonSerializer.Deserialize<List<ThingCount>>(ThingsJson, EventSerializer.Options) ?? [];
}
