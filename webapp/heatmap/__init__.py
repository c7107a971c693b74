"""The permit heatmap on the city dashboard."""
