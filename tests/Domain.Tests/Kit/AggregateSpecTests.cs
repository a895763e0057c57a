using OrdersEs.Domain.EventSourcing;
using Xunit;

namespace OrdersEs.Domain.Tests.Kit;

/// <summary>The kit itself, on an aggregate of its own: a spec passes on the right events and fails on any other outcome.</summary>
public class AggregateSpecTests
{
    public sealed record LampInstalled(string LampId, IReadOnlyList<string> Bulbs) : DomainEvent;

    public sealed record LampSwitchedOn(string LampId) : DomainEvent;

    public sealed class Lamp : AggregateRoot
    {
        public bool On { get; private set; }

        public static Lamp Install(string id, params string[] bulbs)
        {
            var lamp = new Lamp();
            lamp.Apply(new LampInstalled(id, bulbs));
            return lamp;
        }

        public void SwitchOn()
        {
            if (On) throw new DomainRuleException("The lamp is already on.");
            Apply(new LampSwitchedOn(Id));
        }

        private void OnLampInstalled(LampInstalled e) => Id = e.LampId;

        private void OnLampSwitchedOn(LampSwitchedOn e) => On = true;
    }

    private static readonly LampInstalled Installed = new("l-1", ["warm", "cold"]);

    [Fact]
    public void Then_passes_on_the_events_the_command_raised_and_answers_the_aggregate()
    {
        var lamp = AggregateSpec.For<Lamp>().Given(Installed).When(l => l.SwitchOn()).Then(new LampSwitchedOn("l-1"));
        Assert.True(lamp.On);
        Assert.Equal(2, lamp.Version);
        AggregateSpec.For<Lamp>().When(() => Lamp.Install("l-1", "warm", "cold")).Then(Installed);
    }

    [Fact]
    public void ThenThrows_passes_on_a_refusal_that_raised_nothing() =>
        AggregateSpec.For<Lamp>().Given(Installed, new LampSwitchedOn("l-1")).When(l => l.SwitchOn()).ThenThrows<DomainRuleException>();

    [Fact]
    public void A_spec_fails_on_other_events_other_members_inside_a_list_or_an_unexpected_outcome()
    {
        Assert.ThrowsAny<Exception>(() => AggregateSpec.For<Lamp>().When(() => Lamp.Install("l-1", "warm", "hot")).Then(Installed));
        Assert.ThrowsAny<Exception>(() => AggregateSpec.For<Lamp>().Given(Installed).When(l => l.SwitchOn()).Then(new LampSwitchedOn("l-2")));
        Assert.ThrowsAny<Exception>(() => AggregateSpec.For<Lamp>().Given(Installed).When(l => l.SwitchOn()).Then());
        Assert.ThrowsAny<Exception>(() => AggregateSpec.For<Lamp>().Given(Installed).When(l => l.SwitchOn()).ThenThrows<DomainRuleException>());
        Assert.ThrowsAny<Exception>(() => AggregateSpec.For<Lamp>().Given(Installed, new LampSwitchedOn("l-1")).When(l => l.SwitchOn()).Then(new LampSwitchedOn("l-1")));
    }
}
