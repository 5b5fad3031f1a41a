"""Clinical facts several rules share, each a small pure function over the record, answered
once in one reviewed place. A rule imports the module it needs (so `READS` checks see which
labs it reads):

- `wording`: how cards say dates, intervals, doses, results, conditions and medicines;
- `causes`: irreversible causes and other malabsorption, neurological involvement;
- `deficiency`: what shows B12 deficiency (not the total B12 alone) and what shows adequacy;
- `therapy`: doses, regimen windows and current therapy over time (status is not proof),
  maintenance in place, and B12 cover for folic acid.
"""
