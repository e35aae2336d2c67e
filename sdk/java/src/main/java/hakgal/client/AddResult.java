package hakgal.client;

/** The answer of add: {@code created} is false when the fact was already there. */
public record AddResult(Fact fact, boolean created) {}
