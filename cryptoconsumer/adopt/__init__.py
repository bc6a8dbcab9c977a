"""`adopt`: take over a running CloudFormation (CDK) deployment of this consumer, no record lost.

`cloudformation` reads and deletes the CloudFormation stack; `source` finds the consumer in it
by resource type and refuses what cannot be adopted; `planning` builds `up`'s plan from it and
says what DeleteStack does to each resource; `apply` carries it out without a gap.
"""

from cryptoconsumer.adopt.apply import Adopted, execute
from cryptoconsumer.adopt.planning import Adoption, prepare
from cryptoconsumer.adopt.source import AdoptRefused

__all__ = ["AdoptRefused", "Adopted", "Adoption", "execute", "prepare"]
