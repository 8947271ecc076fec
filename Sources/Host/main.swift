import Collector
print("cano-collector")
